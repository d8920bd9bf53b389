"""The head-to-head round's engine: the voter is shown two ideas and picks one (or "can't
decide"), again and again. `chooser` picks the next pair (from the reads in `reads`),
`offer` signs the pair shown so that the choice posted is about it, `estimate` ranks the
ideas from the choices (Bradley-Terry with an interval), and `store` owns every write of the
two tables in `models`. See docs/voting.md, "Head-to-head rounds".
"""
