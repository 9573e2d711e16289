"""2D landmark tracking: BlazePose on video, person selection across frames."""
