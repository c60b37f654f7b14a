"""Huashu script bank: approved best-practice scripts, lookup and the batch CLI.

Imports go one way only: ``scripts_bank`` may import ``training``, never the reverse.
"""
