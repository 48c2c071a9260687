using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MirrorKv.Testing;

/// <summary>Every log line into a queue, "{level} {message}", with an optional prefix and time: for tests that assert on logs or show them on failure.</summary>
public sealed class CapturingLoggerFactory(ConcurrentQueue<string> lines, string? prefix = null) : ILoggerFactory, ILogger
{
    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        lines.Enqueue(prefix is null ? $"{logLevel} {formatter(state, exception)}" : $"{DateTime.UtcNow:HH:mm:ss.fff} {prefix} {logLevel} {formatter(state, exception)}");

    public void Dispose()
    {
    }
}
