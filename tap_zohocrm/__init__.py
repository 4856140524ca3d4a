"""Singer tap for Zoho CRM."""
