"""The local stack: the AWS side emulated on one machine (moto), with the real handlers in-process."""
