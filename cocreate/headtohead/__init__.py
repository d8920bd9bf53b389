"""The head-to-head round's engine: the voter is shown two ideas and picks one (or "can't
decide"), again and again; `chooser` picks the next pair, `estimate` ranks the ideas from the
choices (Bradley-Terry with an interval), `store` owns the writes of the two tables in
`models`. See docs/voting.md, "Head-to-head rounds"."""
