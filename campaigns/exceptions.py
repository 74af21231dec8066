class CampaignError(Exception):
    """A campaign operation that cannot be done; the message is for the operator."""
