"""A GAN with a custom train_step, as keras-io's "Customizing what happens in fit()" writes it
(the GAN section of its PyTorch version), on the bundled 8x8 digits. The code is the guide's,
with `keras` read as `ge`; only the gradient lines are written the graphengine way: each loss
is a method, and `ge.value_and_grad(method, weights)` traces it once into a compiled forward
and backward plan, which every batch then runs.

Run: python examples/gan_digits.py [out.png]. It trains for EPOCHS epochs, saves a grid of
generated digits as a PNG, and scores the samples with a classifier trained on the real
digits: how many it reads with confidence, and how many of the ten digits appear.
"""

import os
import sys
import time

import numpy as np

import graphengine as ge

keras = ge
layers = ge.layers

LATENT_DIM = 16
EPOCHS = 300
BATCH_SIZE = 64


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.rng = np.random.default_rng(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    # graphengine: the two losses the guide differentiates, as functions of the batch
    def discriminator_loss(self, images, labels):
        return self.loss_fn(labels, self.discriminator(images))

    def generator_loss(self, latent, misleading_labels):
        return self.loss_fn(misleading_labels, self.discriminator(self.generator(latent)))

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]
        # Sample random points in the latent space and decode them to fake images
        random_latent_vectors = self.rng.standard_normal((batch_size, self.latent_dim))
        generated_images = self.generator(random_latent_vectors)
        combined_images = np.concatenate([generated_images, real_images], axis=0)
        # Assemble labels discriminating real from fake images (noise added, as the guide)
        labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * self.rng.uniform(size=labels.shape)

        # Train the discriminator (graphengine: the gradient lines)
        d_step = ge.value_and_grad(self.discriminator_loss, self.discriminator.trainable_weights)
        d_loss, grads = d_step(combined_images, labels)
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        # Sample random points in the latent space; labels say "all real images"
        random_latent_vectors = self.rng.standard_normal((batch_size, self.latent_dim))
        misleading_labels = np.zeros((batch_size, 1))

        # Train the generator, not the discriminator (graphengine: the gradient lines)
        g_step = ge.value_and_grad(self.generator_loss, self.generator.trainable_weights)
        g_loss, grads = g_step(random_latent_vectors, misleading_labels)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)

        # Update metrics and return their value.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_gan():
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Flatten(),
            layers.Dense(128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(64),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    generator = keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(64),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(128),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(64, activation="sigmoid"),
            layers.Reshape((8, 8, 1)),
        ],
        name="generator",
    )
    return discriminator, generator


def train_classifier(x, y):
    """A plain classifier of the real digits, to read the generated ones."""
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    return model


def save_grid(images, path, rows=8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(images) // rows
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows))
    for ax, image in zip(axes.ravel(), images):
        ax.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "gan_digits.png"
    ge.utils.set_random_seed(7)
    (x_train, y_train), (x_test, y_test) = ge.datasets.digits.load_digits()
    all_digits = np.concatenate([x_train, x_test])[..., None].astype("float32")
    discriminator, generator = build_gan()
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=LATENT_DIM)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    history = gan.fit(all_digits, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    seconds = time.perf_counter() - start
    last = {k: round(v[-1], 3) for k, v in history.history.items()}
    print(f"trained {EPOCHS} epochs in {seconds:.1f} s; last epoch {last}")

    latent = np.random.default_rng(0).standard_normal((64, LATENT_DIM))
    samples = generator.predict(latent, verbose=0)
    save_grid(samples, out)
    print(f"saved a grid of 64 generated digits to {os.path.abspath(out)}")

    classifier = train_classifier(x_train[..., None], y_train)
    _, real_accuracy = classifier.evaluate(x_test[..., None], y_test, verbose=0)
    probs = classifier.predict(samples, verbose=0)
    confident = float(np.mean(probs.max(axis=1) > 0.9))
    kinds = len(set(probs.argmax(axis=1)[probs.max(axis=1) > 0.9]))
    print(f"classifier accuracy on real test digits: {100 * real_accuracy:.1f}%")
    print(f"generated digits read with confidence > 0.9: {100 * confident:.0f}%")
    print(f"distinct digits among them: {kinds} of 10")


if __name__ == "__main__":
    main()
