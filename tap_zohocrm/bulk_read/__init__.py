"""bulk_read"""
