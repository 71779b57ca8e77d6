"""bot/slack/blocks"""
