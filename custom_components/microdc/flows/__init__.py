"""The subentry flows of a site (devices, heat destinations) and its options flow."""
