"""How a module's records are read: the plan of one sync, and each way of reading as an object."""
