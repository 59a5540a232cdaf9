def load_forums(fake):
    yield "forums: todo"
