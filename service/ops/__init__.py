"""Operations: metrics, logs, shutdown."""
