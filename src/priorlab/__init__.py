"""priorlab: does the RL algorithm matter, or does the prior set the ceiling?"""
