"""The built-in virtual lab: emulated bare-metal machines on localhost."""
