"""batch_files"""
