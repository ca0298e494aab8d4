enum SkiffImagesPlaceholder {}
