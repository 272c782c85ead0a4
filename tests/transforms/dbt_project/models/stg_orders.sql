select * from (values (1, 'a', 10.0), (2, 'b', 20.5), (3, 'a', 7.5)) as t(order_id, customer, amount)
