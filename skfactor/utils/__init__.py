"""Utilities shared by skfactor's estimators."""
