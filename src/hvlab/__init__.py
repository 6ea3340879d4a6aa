"""hvlab: build a KVM host and a Xen host from one spec and compare them."""

__version__ = "0.1.0"
