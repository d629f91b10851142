"""Physical changes and the plan that records them: the layer table of slicers, surgery,
channel, block and input edits, tied parameters, which channels a removal takes."""
