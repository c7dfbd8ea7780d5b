"""Pod programs of the stacks that run as clients of the kernel (the `sql` stack)."""
