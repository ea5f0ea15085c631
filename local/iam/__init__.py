"""IAM, which moto does not enforce: each AWS call a function makes, checked against that function's
role in the synthesized template (recorder.py records, requests.py names the IAM actions and
resources, policies.py reads and evaluates the template, check.py puts them together)."""
