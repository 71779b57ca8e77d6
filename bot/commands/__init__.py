"""bot/commands"""
