"""The admins' settings dialog: rules, pools, users, email templates and the mail server."""
