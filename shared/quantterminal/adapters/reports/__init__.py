"""Reports out: result files, and the daily report to S3 and SNS."""
