"""bot/diagnosis"""
