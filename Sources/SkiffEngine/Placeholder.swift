enum SkiffEnginePlaceholder {}
