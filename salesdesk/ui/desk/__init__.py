"""The rep's desk: lists, the lead panel, the action bar and their dialogs."""
