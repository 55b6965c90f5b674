"""The e-mission / OpenPATH phone protocol, so that the OpenPATH app can use this server."""
