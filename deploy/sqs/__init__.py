"""The parts of the Celery-on-SQS consumer (``deploy/lambda_sqs.py``, its entry point):
reading a record, the delivery inbox, running the task, publishing again with a delay,
keeping what cannot be read."""
