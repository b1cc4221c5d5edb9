"""Acting on a retraining request: training set → challenger → champion/challenger verdict → gated promotion.

`run.retrain` strings the steps together for the CLI; the retraining DAG calls the same steps task by task.
"""
