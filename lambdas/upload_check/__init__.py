"""Upload check: decodes and measures each uploaded source track when it lands in the uploads bucket."""
