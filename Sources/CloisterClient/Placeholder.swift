enum CloisterClientPlaceholder {}
