"""Document processing for the GPQA task: shuffle the four choices with a
seed derived from the question, so the correct answer is not always (A)."""
import hashlib
import random


def process_gpqa(dataset):
    def _process(doc):
        choices = [
            doc["Correct Answer"].strip(),
            doc["Incorrect Answer 1"].strip(),
            doc["Incorrect Answer 2"].strip(),
            doc["Incorrect Answer 3"].strip(),
        ]
        order = list(range(4))
        seed = int(hashlib.sha256(doc["Question"].encode()).hexdigest()[:8], 16)
        random.Random(seed).shuffle(order)
        shuffled = [choices[i] for i in order]
        return {
            "question": doc["Question"].strip(),
            "choice1": shuffled[0],
            "choice2": shuffled[1],
            "choice3": shuffled[2],
            "choice4": shuffled[3],
            "answer": "ABCD"[order.index(0)],
        }

    return dataset.map(_process)
