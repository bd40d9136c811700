"""Hand-written training loops that `gancore bench` measures gancore's trainer against.

Each module is a plain loop the way a user writes it from the books, in one framework
(``torch_*``: ``nn.Sequential`` + ``loss.backward()`` + ``optimizer.step()``; ``tf_*``:
Keras layers + ``tf.GradientTape`` inside ``tf.function``; ``jax_*``: pure functions of
parameter dicts, ``jax.value_and_grad`` and a hand-written Adam in one ``jax.jit`` step).
They import their framework at import time, so import them only in the process that
measures them.

Every loop does the work of one ``GANTrainer.train_step`` per iteration: a critic step (a
real batch indexed from a numpy array, fakes generated without gradient from numpy noise,
the critic scored on real and fake separately) and a generator step (fresh numpy noise,
generator and critic forward, backward, Adam). ``train(steps)`` runs that many iterations
and returns the last (critic, generator) losses as floats, as ``GANTrainer.fit`` returns
its last metrics.
"""
