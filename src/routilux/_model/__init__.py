"""Plain typed objects of the routilux model: no threads, no I/O, no clocks."""
