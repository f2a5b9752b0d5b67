"""Timeseries forecasting, as keras.io's weather prediction example: an LSTM reads the last
PAST steps of a multivariate series (one sample every STEP of them) and predicts the
temperature FUTURE steps after them. The windows come from
`ge.utils.timeseries_dataset_from_array`, a PyDataset that fit takes as data and as
validation_data.

The series is made here from a fixed seed, in 10-minute steps: a temperature with a daily and a
slower cycle, a slight warming trend and weather that persists for hours (an AR(1) process),
and pressure, humidity and wind that move with it. The naive forecast, the temperature at the
window's last sample, misses the daily cycle between then and the target; the LSTM learns it
and halves the naive forecast's error.

Run: python examples/timeseries_forecast.py
"""

import numpy as np

import graphengine as ge

DAY = 144  # 10-minute steps
STEPS = 8_000
TEMPERATURE = 1  # the column predicted, as keras.io predicts column 1
SPLIT_FRACTION = 0.715
PAST, FUTURE, STEP = 120, 12, 6  # 20 hours of history, 2 hours ahead (keras.io: 720, 72, 6)
BATCH_SIZE, EPOCHS = 256, 10


def make_weather(rng: np.random.Generator) -> np.ndarray:
    """(STEPS, 4) float32: pressure, temperature, humidity, wind speed."""
    t = np.arange(STEPS)
    weather = np.zeros(STEPS)
    shocks = rng.normal(0.0, 0.3, STEPS)
    for i in range(1, STEPS):
        weather[i] = 0.99 * weather[i - 1] + shocks[i]
    temperature = (
        10.0
        + 6.0 * np.sin(2 * np.pi * t / DAY)
        + 3.0 * np.sin(2 * np.pi * t / (20 * DAY))
        + 2e-4 * t
        + weather
        + rng.normal(0.0, 0.3, STEPS)
    )
    pressure = 1000.0 - 2.0 * weather + rng.normal(0.0, 0.5, STEPS)
    humidity = 70.0 - 2.0 * temperature + rng.normal(0.0, 2.0, STEPS)
    wind = np.abs(2.0 + 0.5 * weather + rng.normal(0.0, 1.0, STEPS))
    return np.stack([pressure, temperature, humidity, wind], axis=1).astype("float32")


def windows(data: np.ndarray, start: int, stop: int):
    """Windows of data[start:stop] (PAST steps, one sample every STEP), each with the temperature
    PAST + FUTURE steps after its start, paired as keras.io pairs them."""
    return ge.utils.timeseries_dataset_from_array(
        data[start : stop - PAST - FUTURE],
        data[start + PAST + FUTURE : stop, [TEMPERATURE]],
        sequence_length=PAST // STEP,
        sampling_rate=STEP,
        batch_size=BATCH_SIZE,
    )


def naive_mae(dataset) -> float:
    """Mean absolute error of forecasting the temperature at each window's last step."""
    batches = (dataset[i] for i in range(len(dataset)))
    errors = [np.abs(x[:, -1, TEMPERATURE] - y[:, 0]) for x, y in batches]
    return float(np.concatenate(errors).mean())


def main() -> dict:
    """The validation MAE of the LSTM and of the last value, in normalized units."""
    ge.utils.set_random_seed(0)
    features = make_weather(np.random.default_rng(0))
    split = int(SPLIT_FRACTION * len(features))
    # normalize with the training part's statistics, as keras.io does
    mean, std = features[:split].mean(axis=0), features[:split].std(axis=0)
    data = (features - mean) / std
    train, val = windows(data, 0, split + PAST + FUTURE), windows(data, split, len(data))

    inputs = ge.Input(shape=(PAST // STEP, data.shape[1]))
    outputs = ge.layers.Dense(1)(ge.layers.LSTM(32)(inputs))
    model = ge.Model(inputs, outputs, name="forecast")
    model.compile(optimizer=ge.optimizers.Adam(learning_rate=1e-3), loss="mse", metrics=["mae"])
    model.summary()
    stop = ge.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
    model.fit(train, epochs=EPOCHS, validation_data=val, callbacks=[stop], verbose=0)

    _, model_mae = model.evaluate(val, verbose=0)
    result = {"model_mae": float(model_mae), "baseline_mae": naive_mae(val)}
    degrees = float(std[TEMPERATURE])
    print(
        f"validation MAE, {FUTURE} steps after the window: LSTM {result['model_mae']:.4f} "
        f"({result['model_mae'] * degrees:.2f} degrees), last value {result['baseline_mae']:.4f} "
        f"({result['baseline_mae'] * degrees:.2f} degrees)"
    )
    return result


if __name__ == "__main__":
    main()
