"""Test app: read a CSV, count orders per customer, write parquet and a result file."""

import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

source, target = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.getOrCreate()
spark.sparkContext.setLogLevel("WARN")
orders = spark.read.csv(source, header=True)
per_customer = orders.groupBy("customer").agg(F.count("*").alias("orders"))
per_customer.write.mode("overwrite").parquet(target)
rows = per_customer.count()
marker = spark.conf.get("spark.test.marker", "missing")
password = os.environ.get("WAREHOUSE_PASSWORD")
secret_seen = bool(password) and password == spark.conf.get("spark.test.secret.key", None)
spark.stop()
with open(os.environ["LUIGI_AIRBYTE_RESULT_FILE"], "w") as fh:
    json.dump(
        [
            {
                "name": "orders_per_customer",
                "rows": rows,
                "status": "success",
                "message": f"marker={marker}; secret delivered: {secret_seen}",
            }
        ],
        fh,
    )
