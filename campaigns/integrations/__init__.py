"""What external systems use besides the resources: integration tokens, the API's error shape,
idempotent POSTs, rate limits and outbound webhooks.

It lives in campaigns, the top app, because it reaches every app below (contacts, calls) and nothing
below may import it; the settings name its classes by string (authentication, exception handler,
middleware, throttles), so the other apps' API views never import it either.
"""
