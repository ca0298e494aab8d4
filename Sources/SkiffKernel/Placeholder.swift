enum SkiffKernel {}
