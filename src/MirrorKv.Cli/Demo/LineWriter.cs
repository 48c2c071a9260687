using System.Text;

namespace MirrorKv.Cli.Demo;

/// <summary>A writer that hands each complete line to a callback: the demo prints a mover's log with its own stamps and watches it.</summary>
internal sealed class LineWriter(Action<string> onLine) : TextWriter
{
    private readonly StringBuilder _line = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_line)
        {
            if (value == '\n')
            {
                Flush(_line.ToString().TrimEnd('\r'));
            }
            else
            {
                _line.Append(value);
            }
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_line)
        {
            Flush(_line.Append(value).ToString());
        }
    }

    private void Flush(string line)
    {
        _line.Clear();
        onLine(line);
    }
}
