"""bot/poll"""
