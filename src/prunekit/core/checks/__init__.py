"""That a removal is sound: the trial removal and the equivalence invariant."""
