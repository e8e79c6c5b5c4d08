"""The district console's pages (``/district/...``) and the provider's own (``/provider/``)."""
