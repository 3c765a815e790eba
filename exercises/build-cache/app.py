"""cache-app: prints a cow with a message. Edit MESSAGE and rebuild to watch the build cache work."""
import cowsay

MESSAGE = "cache-app 1.0: only the layers after my source were rebuilt!"

if __name__ == "__main__":
    print(cowsay.get_output_string("cow", MESSAGE), flush=True)
