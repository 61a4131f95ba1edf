"""Delivery of files to Nasjonalbiblioteket: SFTP (NB's planned area) or an object-storage path."""
