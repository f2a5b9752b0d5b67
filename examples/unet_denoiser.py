"""A small U-Net denoiser on the 8x8 digits: noisy digit in, clean digit out.

Run: python examples/unet_denoiser.py [out.png]
The down path is two Conv2D blocks with max pooling (8x8 -> 4x4 -> 2x2); the up path doubles the
grid with UpSampling2D (bilinear, then nearest) and concatenates the down path's features of the
same size (the skip connections) before each convolution. It trains briefly on pairs of
(digit + Gaussian noise, digit), with RandomFlip / RandomTranslation augmenting the clean digits
first, prints the test error of the noisy input, of the untrained and of the trained network, and
saves noisy / denoised / clean test digits side by side to out.png (default unet_denoiser.png).
"""

import os
import sys

import numpy as np

import graphengine as ge

L = ge.layers
NOISE = 0.35


def conv(filters, name):
    return L.Conv2D(filters, 3, padding="same", activation="relu", name=name)


def build_unet():
    noisy = ge.Input(shape=(8, 8, 1), name="noisy")
    d1 = conv(16, "down1")(noisy)  # 8x8
    d2 = conv(32, "down2")(L.MaxPooling2D(name="pool1")(d1))  # 4x4
    bottom = conv(32, "bottom")(L.MaxPooling2D(name="pool2")(d2))  # 2x2
    u2 = L.UpSampling2D(interpolation="bilinear", name="up2")(bottom)  # 4x4
    u2 = conv(32, "up2_conv")(L.Concatenate(name="skip2")([u2, d2]))
    u1 = L.UpSampling2D(name="up1")(u2)  # 8x8, nearest
    u1 = conv(16, "up1_conv")(L.Concatenate(name="skip1")([u1, d1]))
    clean = L.Conv2D(1, 1, activation="sigmoid", name="clean")(u1)
    return ge.Model(noisy, clean, name="unet_denoiser")


def add_noise(images, seed):
    noise = np.random.default_rng(seed).normal(0.0, NOISE, images.shape).astype("float32")
    return images + noise


def augment(images):
    """Mirrored and shifted copies of the clean digits (the augmentation layers in training)."""
    x = ge.Input(shape=(8, 8, 1))
    h = L.RandomFlip("horizontal", seed=1)(x)
    h = L.RandomTranslation(0.125, 0.125, fill_mode="constant", seed=2)(h)
    return ge.Model(x, h)(images, training=True)


def save_rows(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), len(rows[0][1]), figsize=(len(rows[0][1]), len(rows)))
    for r, (label, images) in enumerate(rows):
        for ax, image in zip(axes[r], images):
            ax.imshow(np.clip(image[..., 0], 0, 1), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
        axes[r, 0].set_title(label, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "unet_denoiser.png"
    ge.utils.set_random_seed(0)
    (x_train, _), (x_test, _) = ge.datasets.load_digits()
    x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 8, 8, 1) in [0, 1]
    clean_train = np.concatenate([x_train, augment(x_train)])
    noisy_train, noisy_test = add_noise(clean_train, 1), add_noise(x_test, 2)

    unet = build_unet()
    unet.summary()
    unet.compile(optimizer=ge.optimizers.Adam(learning_rate=3e-3), loss="mse")
    before = unet.evaluate(noisy_test, x_test, verbose=0)
    unet.fit(noisy_train, clean_train, batch_size=64, epochs=6, verbose=2)
    after = unet.evaluate(noisy_test, x_test, verbose=0)
    noisy = float(np.mean((noisy_test - x_test) ** 2))
    print(
        f"denoising mse: noisy input {noisy:.4f}, U-Net before training {before:.4f}, "
        f"after training {after:.4f}"
    )

    picks = np.arange(8)
    denoised = unet.predict(noisy_test[picks], verbose=0)
    save_rows([("noisy", noisy_test[picks]), ("denoised", denoised), ("clean", x_test[picks])], out)
    print(f"saved noisy / denoised / clean test digits to {os.path.abspath(out)}")


if __name__ == "__main__":
    main()
