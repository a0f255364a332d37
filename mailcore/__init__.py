"""Mail protocol code (IMAP, SMTP, MIME parsing and building, COI rules) with no Django imports."""
