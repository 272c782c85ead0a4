{% if var('break_orders_by_customer', false) %}
select no_such_column from {{ ref('stg_orders') }}
{% else %}
select customer, count(*) as orders, sum(amount) as total
from {{ ref('stg_orders') }}
group by customer
{% endif %}
