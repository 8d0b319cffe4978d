"""The monolith's Lambda function (``"lambda_handler": "deploy.lambda_handler.lambda_handler"``):
the API, the schedules, and every queue not peeled off into a function of its own."""

from deploy.runtime import make_handler

lambda_handler = make_handler(queues=None)
