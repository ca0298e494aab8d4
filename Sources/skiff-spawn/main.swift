print("spawn")
