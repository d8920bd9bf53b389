"""One use case per moderator's decision on an idea, each in its own module: approve, reject,
request_changes, merge, escalate, and undo; bulk runs approve or reject over many ideas, and
`decide` picks the use case the queue's form asked for. `case` holds the steps they share.
"""
